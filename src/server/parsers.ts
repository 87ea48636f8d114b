import type { FastifyInstance } from "fastify";
import { invalidRequest } from "./api-error.js";

/**
 * Parses an `application/x-www-form-urlencoded` body (RFC 6749 §3.2 / appendix B). A parameter sent
 * twice is a 400 `invalid_request` (RFC 6749 §3.1); one sent without a value counts as omitted.
 */
export function parseForm(text: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  const seen = new Set<string>();
  for (const [name, value] of new URLSearchParams(text)) {
    if (seen.has(name)) {
      const shown = /^[A-Za-z0-9_.-]{1,40}$/.test(name) ? ` "${name}"` : "";
      throw invalidRequest(`Parameter${shown} is repeated`);
    }
    seen.add(name);
    if (value !== "") out[name] = value;
  }
  return out;
}

/** Accepts JSON bodies only in this (encapsulated) context; an empty body is no body. */
export function acceptJson(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser("error", "error");
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    if ((body as string).trim() === "") {
      done(null, undefined);
      return;
    }
    void parse(request, body as string, done);
  });
}

/** Accepts form bodies only in this (encapsulated) context. */
export function acceptForm(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    "application/x-www-form-urlencoded",
    { parseAs: "string" },
    (_request, body, done) => {
      try {
        done(null, parseForm(body as string));
      } catch (error) {
        done(error as Error, undefined);
      }
    },
  );
}

/**
 * The root context takes any body without parsing it, so that an unknown route is a 404, not a 415;
 * the API contexts replace this with their own parser.
 */
export function acceptAnything(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, _body, done) => done(null, undefined));
}

/** A JSON request body as an object, or 400 `invalid_request`. A missing body is `{}`. */
export function jsonObject(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== "object" || Array.isArray(body))
    throw invalidRequest("The request body must be a JSON object");
  return body as Record<string, unknown>;
}

/** A form body (always an object after {@link parseForm}); `{}` when there was none. */
export function formObject(body: unknown): Record<string, string> {
  if (body === undefined || body === null || typeof body !== "object") return Object.create(null);
  return body as Record<string, string>;
}
