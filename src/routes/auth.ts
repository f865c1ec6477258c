import { Hono } from "hono";
import type { AppEnv } from "../env";
import { validate } from "../lib/validate";
import { byClientIp, byLoginEmail, rateLimit } from "../middleware/rate-limit";
import { loginBody, refreshTokenBody, registerBody } from "../schemas/auth";
import { login, logout, refresh, register } from "../services/auth";

export const authRoutes = new Hono<AppEnv>()
  .post("/register", rateLimit("registerIp", byClientIp), validate("json", registerBody), async (c) => {
    return c.json(await register(c.var.db, c.var.config, c.req.valid("json")), 201);
  })
  // Per IP and per target email: neither many accounts from one address nor one account
  // from many addresses gets more guesses.
  .post(
    "/login",
    rateLimit("loginIp", byClientIp),
    rateLimit("loginEmail", byLoginEmail),
    validate("json", loginBody),
    async (c) => {
      return c.json(await login(c.var.db, c.var.config, c.req.valid("json")));
    },
  )
  .post("/refresh-token", validate("json", refreshTokenBody), async (c) => {
    return c.json(await refresh(c.var.db, c.var.config, c.req.valid("json").refreshToken));
  })
  .post("/logout", validate("json", refreshTokenBody), async (c) => {
    await logout(c.var.db, c.req.valid("json").refreshToken);
    return c.body(null, 204);
  });
