import { z } from "zod";
import { ERROR_CODES } from "../lib/errors";

export const errorDetail = z
  .object({
    field: z.string().describe("Dotted path into the request (`connection.port`), or `body` for the request as a whole"),
    message: z.string(),
  })
  .describe("One field-level problem");

/** The spec's error shape: every non-2xx response of every route has it. */
export const errorBody = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES).describe("Machine-readable; each code always comes with the same HTTP status"),
      message: z.string().describe("For a person; may change between versions"),
      details: z.array(errorDetail).describe("Field-level problems (validation errors); often empty"),
    }),
  })
  .describe("The body of every non-2xx response");

export type ErrorBody = z.output<typeof errorBody>;
