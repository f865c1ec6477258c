DROP INDEX `dashboards_org_created_idx`;--> statement-breakpoint
CREATE INDEX `dashboards_org_updated_idx` ON `dashboards` (`organization_id`,`updated_at`,`id`);--> statement-breakpoint
CREATE INDEX `dashboards_org_name_idx` ON `dashboards` (`organization_id`,"name" COLLATE NOCASE,`id`);--> statement-breakpoint
CREATE INDEX `dashboards_org_public_idx` ON `dashboards` (`organization_id`,`is_public`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `dashboards_org_created_idx` ON `dashboards` (`organization_id`,`created_at`,`id`);--> statement-breakpoint
ALTER TABLE `organizations` ADD `dashboard_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Existing organizations start from their real count (hand-written: drizzle-kit writes no data).
UPDATE `organizations` SET `dashboard_count` = (SELECT count(*) FROM `dashboards` WHERE `dashboards`.`organization_id` = `organizations`.`id`);
