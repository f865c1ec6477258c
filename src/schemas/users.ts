import { z } from "zod";
import { ROLES } from "../db/schema";
import { pageSchema, paginationQuery } from "../lib/pagination";
import { NON_EMPTY_PATCH, email, newPassword, nonEmptyPatch, personName, sortParam, timestamp, uuid } from "./common";

export const updateMeBody = z
  .strictObject({ firstName: personName.optional(), lastName: personName.optional() })
  .refine(nonEmptyPatch, NON_EMPTY_PATCH);

export const changePasswordBody = z.strictObject({
  currentPassword: z.string().min(1).max(1024),
  newPassword,
});

export const createUserBody = z.strictObject({
  email,
  password: newPassword,
  firstName: personName,
  lastName: personName,
  role: z.enum(ROLES),
});

export const updateUserBody = z
  .strictObject({
    firstName: personName.optional(),
    lastName: personName.optional(),
    role: z.enum(ROLES).optional(),
  })
  .refine(nonEmptyPatch, NON_EMPTY_PATCH);

export const listUsersQuery = z.object({
  ...paginationQuery,
  sort: sortParam(["email", "createdAt", "updatedAt"], "-createdAt"),
  role: z.enum(ROLES).optional(),
});

export type UpdateMeInput = z.infer<typeof updateMeBody>;
export type CreateUserInput = z.infer<typeof createUserBody>;
export type UpdateUserInput = z.infer<typeof updateUserBody>;
export type ListUsersQuery = z.infer<typeof listUsersQuery>;

// ---- Responses

export const userResponse = z.object({
  id: uuid,
  email: z.string().describe("Lower-cased; unique across the whole service"),
  firstName: z.string(),
  lastName: z.string(),
  role: z.enum(ROLES),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export const userPage = pageSchema(userResponse);

export type UserResponse = z.output<typeof userResponse>;
