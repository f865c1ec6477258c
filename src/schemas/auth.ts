import { z } from "zod";
import { email, newPassword, personName } from "./common";
import { userResponse } from "./users";

export const registerBody = z.strictObject({
  email,
  password: newPassword,
  firstName: personName,
  lastName: personName,
  organizationName: z.string().trim().min(1).max(200).optional(),
});

// Login does not repeat the password policy: a wrong password is just wrong.
export const loginBody = z.strictObject({
  email: z.string().trim().toLowerCase().min(1).max(254),
  password: z.string().min(1).max(1024),
});

export const refreshTokenBody = z.strictObject({
  refreshToken: z.string().min(1).max(512),
});

export type RegisterInput = z.infer<typeof registerBody>;
export type LoginInput = z.infer<typeof loginBody>;

// ---- Responses

export const tokenPair = z.object({
  accessToken: z.string().describe("A JWT (HS256) for `Authorization: Bearer`; ends with its session"),
  refreshToken: z.string().describe("Opaque; spent by one refresh, which returns a new one"),
  expiresIn: z.number().int().positive().describe("Seconds until the access token expires"),
});

export const sessionResponse = tokenPair.extend({
  user: userResponse.pick({ id: true, email: true, firstName: true, lastName: true, role: true }),
});

export type TokenPair = z.output<typeof tokenPair>;
export type Session = z.output<typeof sessionResponse>;
