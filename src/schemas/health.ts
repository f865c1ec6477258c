import { z } from "zod";

export const healthResponse = z.object({ status: z.literal("ok") }).describe("D1 answered a trivial query");
export type HealthResponse = z.output<typeof healthResponse>;
