CREATE TABLE "campaign_targets" (
	"campaign_id" uuid NOT NULL,
	"device_id" text NOT NULL,
	"position" integer NOT NULL,
	"command_id" uuid
);
--> statement-breakpoint
CREATE TABLE "campaigns" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"name" text NOT NULL,
	"op" text NOT NULL,
	"iccid" text,
	"activation_code" text,
	"filter" jsonb NOT NULL,
	"rate_per_minute" integer NOT NULL,
	"concurrency" integer NOT NULL,
	"failure_threshold" integer NOT NULL,
	"ttl_seconds" integer NOT NULL,
	"status" text DEFAULT 'running' NOT NULL,
	"paused_reason" text,
	"requested_by" text NOT NULL,
	"total" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "commands" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"device_id" text NOT NULL,
	"op" text NOT NULL,
	"iccid" text,
	"activation_code" text,
	"status" text DEFAULT 'queued' NOT NULL,
	"requested_by" text NOT NULL,
	"campaign_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"sent_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"eid" text,
	"counter_value" integer,
	"eim_transaction_id" text,
	"euicc_package_request" "bytea",
	"result" jsonb,
	"error_code" text,
	"error_message" text,
	"deliveries" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "eim_counters" (
	"eid" text PRIMARY KEY NOT NULL,
	"counter_value" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "campaigns" ADD CONSTRAINT "campaigns_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "commands" ADD CONSTRAINT "commands_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "campaign_targets_campaign_id_device_id_index" ON "campaign_targets" USING btree ("campaign_id","device_id");--> statement-breakpoint
CREATE INDEX "campaign_targets_next" ON "campaign_targets" USING btree ("campaign_id","position") WHERE command_id is null;--> statement-breakpoint
CREATE INDEX "campaigns_tenant_id_created_at_index" ON "campaigns" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "commands_one_in_flight" ON "commands" USING btree ("device_id") WHERE status = 'sent';--> statement-breakpoint
CREATE INDEX "commands_pending" ON "commands" USING btree ("device_id","created_at") WHERE status in ('queued', 'sent');--> statement-breakpoint
CREATE INDEX "commands_expiry" ON "commands" USING btree ("expires_at") WHERE status in ('queued', 'sent');--> statement-breakpoint
CREATE INDEX "commands_tenant_id_device_id_created_at_index" ON "commands" USING btree ("tenant_id","device_id","created_at");--> statement-breakpoint
CREATE INDEX "commands_campaign_id_status_index" ON "commands" USING btree ("campaign_id","status");