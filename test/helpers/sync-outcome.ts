import { expect } from "vitest";

/** What `verifySync` answers ("valid" or the error code), an `Auth`'s or a remote verifier's; never a promise. */
export function syncOutcome(v: { verifySync(token: string): unknown }, token: string): string {
  try {
    const claims = v.verifySync(token);
    expect(claims).not.toBeInstanceOf(Promise);
    return "valid";
  } catch (error) {
    return (error as { code: string }).code;
  }
}
