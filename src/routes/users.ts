import { Hono } from "hono";
import type { AppEnv } from "../env";
import { validate } from "../lib/validate";
import { requireAuth, requireRole } from "../middleware/auth";
import { byClientIp, rateLimit } from "../middleware/rate-limit";
import { idParam } from "../schemas/common";
import { changePasswordBody, createUserBody, listUsersQuery, updateMeBody, updateUserBody } from "../schemas/users";
import {
  changePassword,
  createUser,
  deleteUser,
  getUser,
  listUsers,
  toUserResponse,
  updateMe,
  updateUser,
} from "../services/users";

export const userRoutes = new Hono<AppEnv>()
  .use("*", requireAuth)
  .get("/me", async (c) => {
    return c.json(toUserResponse(await getUser(c.var.db, c.var.actor, c.var.actor.userId)));
  })
  .patch("/me", validate("json", updateMeBody), async (c) => {
    return c.json(toUserResponse(await updateMe(c.var.db, c.var.actor, c.req.valid("json"))));
  })
  .post("/me/password", rateLimit("passwordIp", byClientIp), validate("json", changePasswordBody), async (c) => {
    await changePassword(c.var.db, c.var.actor, c.req.valid("json"), c.var.actor.sessionId);
    return c.body(null, 204);
  })
  // Everything below manages other members: admins only.
  .use("*", requireRole("admin"))
  .get("/", validate("query", listUsersQuery), async (c) => {
    return c.json(await listUsers(c.var.db, c.var.actor, c.req.valid("query")));
  })
  .post("/", validate("json", createUserBody), async (c) => {
    return c.json(toUserResponse(await createUser(c.var.db, c.var.actor, c.req.valid("json"))), 201);
  })
  .get("/:id", validate("param", idParam), async (c) => {
    return c.json(toUserResponse(await getUser(c.var.db, c.var.actor, c.req.valid("param").id)));
  })
  .patch("/:id", validate("param", idParam), validate("json", updateUserBody), async (c) => {
    const user = await updateUser(c.var.db, c.var.actor, c.req.valid("param").id, c.req.valid("json"));
    return c.json(toUserResponse(user));
  })
  .delete("/:id", validate("param", idParam), async (c) => {
    await deleteUser(c.var.db, c.var.actor, c.req.valid("param").id);
    return c.body(null, 204);
  });
