import { z } from "zod";
import { email, newPassword, personName } from "./common";

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
