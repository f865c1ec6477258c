import { Hono } from "hono";
import type { AppEnv } from "../env";
import { validate } from "../lib/validate";
import { loginBody, refreshTokenBody, registerBody } from "../schemas/auth";
import { login, logout, refresh, register } from "../services/auth";

export const authRoutes = new Hono<AppEnv>()
  .post("/register", validate("json", registerBody), async (c) => {
    return c.json(await register(c.var.db, c.var.config, c.req.valid("json")), 201);
  })
  .post("/login", validate("json", loginBody), async (c) => {
    return c.json(await login(c.var.db, c.var.config, c.req.valid("json")));
  })
  .post("/refresh-token", validate("json", refreshTokenBody), async (c) => {
    return c.json(await refresh(c.var.db, c.var.config, c.req.valid("json").refreshToken));
  })
  .post("/logout", validate("json", refreshTokenBody), async (c) => {
    await logout(c.var.db, c.req.valid("json").refreshToken);
    return c.body(null, 204);
  });
