import { z } from "zod";

export const paginationQuery = {
  page: z.coerce.number().int().min(1).max(1_000_000).default(1),
  limit: z.coerce.number().int().min(1).max(100).default(20),
};

export interface Page<T> {
  data: T[];
  meta: { total: number; page: number; limit: number; pages: number };
}

export function pageOf<T>(data: T[], total: number, page: number, limit: number): Page<T> {
  return { data, meta: { total, page, limit, pages: Math.ceil(total / limit) } };
}

export const offsetOf = (page: number, limit: number) => (page - 1) * limit;
