-- Telemetry partitioned by day on "ts", with per-minute and per-hour rollups (docs/ingest.md "Partitions,
-- retention and rollups"). Hand-written: drizzle cannot declare partitioned tables. The existing table is
-- renamed, a partitioned one takes its name, the rows move across, and the old table is dropped. Partitions
-- are named <table>_pYYYYMMDD (days) and <table>_pYYYYMM (months); server/telemetry/partition-maintenance.ts
-- creates the next ones and drops expired ones, and each table's DEFAULT partition takes any row no
-- partition covers, so an insert never fails for a missing partition.
ALTER TABLE "telemetry" RENAME TO "telemetry_unpartitioned";
--> statement-breakpoint
ALTER TABLE "telemetry_unpartitioned" RENAME CONSTRAINT "telemetry_device_id_ts_seq_pk" TO "telemetry_unpartitioned_pk";
--> statement-breakpoint
CREATE TABLE "telemetry" (
	"device_id" text NOT NULL,
	"ts" timestamp (3) with time zone NOT NULL,
	"seq" bigint NOT NULL,
	"received_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"rsrp" real,
	"rsrq" real,
	"sinr" real,
	"rssi" real,
	"rat" text,
	"mcc" text,
	"mnc" text,
	"cell_id" bigint,
	"tac" integer,
	"band" smallint,
	"bytes_up" bigint,
	"bytes_down" bigint,
	"battery" real,
	"temperature" real,
	"uptime" bigint,
	"lat" double precision,
	"lon" double precision,
	CONSTRAINT "telemetry_device_id_ts_seq_pk" PRIMARY KEY("device_id","ts","seq")
) PARTITION BY RANGE ("ts");
--> statement-breakpoint
CREATE INDEX "telemetry_received_at_idx" ON "telemetry" USING btree ("received_at");
--> statement-breakpoint
CREATE TABLE "telemetry_1m" (
	"device_id" text NOT NULL,
	"bucket" timestamp (3) with time zone NOT NULL,
	"samples" integer NOT NULL,
	"rsrp_count" integer DEFAULT 0 NOT NULL,
	"rsrp_sum" double precision DEFAULT 0 NOT NULL,
	"rsrp_min" real,
	"rsrp_max" real,
	"rsrq_count" integer DEFAULT 0 NOT NULL,
	"rsrq_sum" double precision DEFAULT 0 NOT NULL,
	"rsrq_min" real,
	"rsrq_max" real,
	"sinr_count" integer DEFAULT 0 NOT NULL,
	"sinr_sum" double precision DEFAULT 0 NOT NULL,
	"sinr_min" real,
	"sinr_max" real,
	"rssi_count" integer DEFAULT 0 NOT NULL,
	"rssi_sum" double precision DEFAULT 0 NOT NULL,
	"rssi_min" real,
	"rssi_max" real,
	"battery_count" integer DEFAULT 0 NOT NULL,
	"battery_sum" double precision DEFAULT 0 NOT NULL,
	"battery_min" real,
	"battery_max" real,
	"temperature_count" integer DEFAULT 0 NOT NULL,
	"temperature_sum" double precision DEFAULT 0 NOT NULL,
	"temperature_min" real,
	"temperature_max" real,
	"bytes_up_count" integer DEFAULT 0 NOT NULL,
	"bytes_up_sum" numeric DEFAULT '0' NOT NULL,
	"bytes_up_min" bigint,
	"bytes_up_max" bigint,
	"bytes_down_count" integer DEFAULT 0 NOT NULL,
	"bytes_down_sum" numeric DEFAULT '0' NOT NULL,
	"bytes_down_min" bigint,
	"bytes_down_max" bigint,
	"uptime_count" integer DEFAULT 0 NOT NULL,
	"uptime_sum" numeric DEFAULT '0' NOT NULL,
	"uptime_min" bigint,
	"uptime_max" bigint,
	"lat_count" integer DEFAULT 0 NOT NULL,
	"lat_sum" double precision DEFAULT 0 NOT NULL,
	"lat_min" double precision,
	"lat_max" double precision,
	"lon_count" integer DEFAULT 0 NOT NULL,
	"lon_sum" double precision DEFAULT 0 NOT NULL,
	"lon_min" double precision,
	"lon_max" double precision,
	CONSTRAINT "telemetry_1m_device_id_bucket_pk" PRIMARY KEY("device_id","bucket")
) PARTITION BY RANGE ("bucket");
--> statement-breakpoint
CREATE TABLE "telemetry_1h" (
	"device_id" text NOT NULL,
	"bucket" timestamp (3) with time zone NOT NULL,
	"samples" integer NOT NULL,
	"rsrp_count" integer DEFAULT 0 NOT NULL,
	"rsrp_sum" double precision DEFAULT 0 NOT NULL,
	"rsrp_min" real,
	"rsrp_max" real,
	"rsrq_count" integer DEFAULT 0 NOT NULL,
	"rsrq_sum" double precision DEFAULT 0 NOT NULL,
	"rsrq_min" real,
	"rsrq_max" real,
	"sinr_count" integer DEFAULT 0 NOT NULL,
	"sinr_sum" double precision DEFAULT 0 NOT NULL,
	"sinr_min" real,
	"sinr_max" real,
	"rssi_count" integer DEFAULT 0 NOT NULL,
	"rssi_sum" double precision DEFAULT 0 NOT NULL,
	"rssi_min" real,
	"rssi_max" real,
	"battery_count" integer DEFAULT 0 NOT NULL,
	"battery_sum" double precision DEFAULT 0 NOT NULL,
	"battery_min" real,
	"battery_max" real,
	"temperature_count" integer DEFAULT 0 NOT NULL,
	"temperature_sum" double precision DEFAULT 0 NOT NULL,
	"temperature_min" real,
	"temperature_max" real,
	"bytes_up_count" integer DEFAULT 0 NOT NULL,
	"bytes_up_sum" numeric DEFAULT '0' NOT NULL,
	"bytes_up_min" bigint,
	"bytes_up_max" bigint,
	"bytes_down_count" integer DEFAULT 0 NOT NULL,
	"bytes_down_sum" numeric DEFAULT '0' NOT NULL,
	"bytes_down_min" bigint,
	"bytes_down_max" bigint,
	"uptime_count" integer DEFAULT 0 NOT NULL,
	"uptime_sum" numeric DEFAULT '0' NOT NULL,
	"uptime_min" bigint,
	"uptime_max" bigint,
	"lat_count" integer DEFAULT 0 NOT NULL,
	"lat_sum" double precision DEFAULT 0 NOT NULL,
	"lat_min" double precision,
	"lat_max" double precision,
	"lon_count" integer DEFAULT 0 NOT NULL,
	"lon_sum" double precision DEFAULT 0 NOT NULL,
	"lon_min" double precision,
	"lon_max" double precision,
	CONSTRAINT "telemetry_1h_device_id_bucket_pk" PRIMARY KEY("device_id","bucket")
) PARTITION BY RANGE ("bucket");
--> statement-breakpoint
CREATE TABLE "telemetry_rollup_state" (
	"source" text PRIMARY KEY NOT NULL,
	"watermark" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
-- The rollup job starts from the beginning: the rows moved below are rolled up in batches after start.
INSERT INTO "telemetry_rollup_state" ("source", "watermark") VALUES ('telemetry', '-infinity');
--> statement-breakpoint
CREATE TABLE "telemetry_default" PARTITION OF "telemetry" DEFAULT;
--> statement-breakpoint
CREATE TABLE "telemetry_1m_default" PARTITION OF "telemetry_1m" DEFAULT;
--> statement-breakpoint
CREATE TABLE "telemetry_1h_default" PARTITION OF "telemetry_1h" DEFAULT;
--> statement-breakpoint
-- A partition for every UTC day that holds rows, and for yesterday to a week ahead (the rollups: the same
-- days, and their months).
DO $$
DECLARE
	day timestamptz;
	month timestamptz;
BEGIN
	FOR day IN
		SELECT DISTINCT date_trunc('day', "ts", 'UTC') FROM "telemetry_unpartitioned"
		UNION SELECT generate_series(date_trunc('day', now(), 'UTC') - interval '1 day', date_trunc('day', now(), 'UTC') + interval '7 days', interval '1 day')
	LOOP
		EXECUTE format('CREATE TABLE %I PARTITION OF "telemetry" FOR VALUES FROM (%L) TO (%L)', 'telemetry_p' || to_char(day AT TIME ZONE 'UTC', 'YYYYMMDD'), day, day + interval '1 day');
		EXECUTE format('CREATE TABLE %I PARTITION OF "telemetry_1m" FOR VALUES FROM (%L) TO (%L)', 'telemetry_1m_p' || to_char(day AT TIME ZONE 'UTC', 'YYYYMMDD'), day, day + interval '1 day');
	END LOOP;
	FOR month IN
		SELECT DISTINCT date_trunc('month', "ts", 'UTC') FROM "telemetry_unpartitioned"
		UNION SELECT generate_series(date_trunc('month', now(), 'UTC') - interval '1 month', date_trunc('month', now(), 'UTC') + interval '1 month', interval '1 month')
	LOOP
		EXECUTE format('CREATE TABLE %I PARTITION OF "telemetry_1h" FOR VALUES FROM (%L) TO (%L)', 'telemetry_1h_p' || to_char(month AT TIME ZONE 'UTC', 'YYYYMM'), month, month + interval '1 month');
	END LOOP;
END $$;
--> statement-breakpoint
INSERT INTO "telemetry" ("device_id", "ts", "seq", "received_at", "rsrp", "rsrq", "sinr", "rssi", "rat", "mcc", "mnc", "cell_id", "tac", "band", "bytes_up", "bytes_down", "battery", "temperature", "uptime", "lat", "lon")
	SELECT "device_id", "ts", "seq", "received_at", "rsrp", "rsrq", "sinr", "rssi", "rat", "mcc", "mnc", "cell_id", "tac", "band", "bytes_up", "bytes_down", "battery", "temperature", "uptime", "lat", "lon" FROM "telemetry_unpartitioned";
--> statement-breakpoint
DROP TABLE "telemetry_unpartitioned";
