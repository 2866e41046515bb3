CREATE TABLE "device_certificates" (
	"serial" text PRIMARY KEY NOT NULL,
	"device_id" text NOT NULL,
	"tenant_id" uuid NOT NULL,
	"fingerprint" text NOT NULL,
	"key_type" text NOT NULL,
	"der" "bytea" NOT NULL,
	"not_after" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "device_certificates_fingerprint_unique" UNIQUE("fingerprint")
);
--> statement-breakpoint
ALTER TABLE "trust_anchors" DROP CONSTRAINT "trust_anchors_fingerprint_unique";--> statement-breakpoint
ALTER TABLE "quarantine" ALTER COLUMN "payload" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "devices" ADD COLUMN "disabled" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "quarantine" ADD COLUMN "size_bytes" integer;--> statement-breakpoint
ALTER TABLE "trust_anchors" ADD COLUMN "tenant_id" uuid;--> statement-breakpoint
ALTER TABLE "device_certificates" ADD CONSTRAINT "device_certificates_device_id_devices_id_fk" FOREIGN KEY ("device_id") REFERENCES "public"."devices"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "device_certificates" ADD CONSTRAINT "device_certificates_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "device_certificates_device_id_index" ON "device_certificates" USING btree ("device_id");--> statement-breakpoint
ALTER TABLE "trust_anchors" ADD CONSTRAINT "trust_anchors_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "trust_anchors" ADD CONSTRAINT "trust_anchors_scope_fingerprint" UNIQUE NULLS NOT DISTINCT("tenant_id","fingerprint");--> statement-breakpoint
UPDATE "profiles" SET "state" = 'disabled' WHERE "state" = 'installed';
