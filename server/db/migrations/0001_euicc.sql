CREATE TABLE "euicc_certificates" (
	"eid" text PRIMARY KEY NOT NULL,
	"euicc_der" "bytea" NOT NULL,
	"eum_der" "bytea",
	"source" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "notifications" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" uuid,
	"device_id" text,
	"eid" text,
	"seq_number" bigint,
	"kind" text,
	"operation" text,
	"iccid" text,
	"notification_address" text,
	"result" jsonb,
	"status" text NOT NULL,
	"reason" text,
	"detail" text,
	"sha256" text NOT NULL,
	"der" "bytea" NOT NULL,
	"source" text NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"verified_at" timestamp with time zone,
	CONSTRAINT "notifications_sha256_unique" UNIQUE("sha256")
);
--> statement-breakpoint
CREATE TABLE "operators" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"country" text NOT NULL,
	"mcc" text NOT NULL,
	"mnc" text NOT NULL,
	"iccid_prefix" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "profiles" (
	"eid" text NOT NULL,
	"iccid" text NOT NULL,
	"tenant_id" uuid,
	"device_id" text,
	"state" text NOT NULL,
	"seq_number" bigint,
	"cause" text NOT NULL,
	"changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"reported_state" text,
	"reported_at" timestamp with time zone,
	"conflict" text,
	"name" text,
	"spn" text,
	"operator_id" text,
	"fallback" boolean DEFAULT false NOT NULL,
	CONSTRAINT "profiles_eid_iccid_pk" PRIMARY KEY("eid","iccid")
);
--> statement-breakpoint
CREATE TABLE "trust_anchors" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"subject" text NOT NULL,
	"fingerprint" text NOT NULL,
	"der" "bytea" NOT NULL,
	"not_after" timestamp with time zone NOT NULL,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "trust_anchors_fingerprint_unique" UNIQUE("fingerprint")
);
--> statement-breakpoint
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "profiles" ADD CONSTRAINT "profiles_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "notifications_eid_seq_accepted" ON "notifications" USING btree ("eid","seq_number") WHERE status = 'accepted';--> statement-breakpoint
CREATE INDEX "notifications_tenant_id_received_at_index" ON "notifications" USING btree ("tenant_id","received_at");--> statement-breakpoint
CREATE INDEX "notifications_device_id_received_at_index" ON "notifications" USING btree ("device_id","received_at");--> statement-breakpoint
CREATE INDEX "notifications_pending" ON "notifications" USING btree ("id") WHERE status = 'pending';--> statement-breakpoint
CREATE UNIQUE INDEX "operators_mcc_mnc_index" ON "operators" USING btree ("mcc","mnc");--> statement-breakpoint
CREATE INDEX "profiles_device_id_index" ON "profiles" USING btree ("device_id");