-- The device list's `q` filter (ILIKE '%…%' on name, id, EID, IMEI) uses these trigram indexes instead of
-- scanning every device of the tenant. pg_trgm is a trusted extension: a database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;--> statement-breakpoint
CREATE INDEX "devices_name_trgm_idx" ON "devices" USING gin ("name" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "devices_id_trgm_idx" ON "devices" USING gin ("id" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "devices_eid_trgm_idx" ON "devices" USING gin ("eid" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "devices_imei_trgm_idx" ON "devices" USING gin ("imei" gin_trgm_ops);
