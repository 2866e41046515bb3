CREATE TABLE "notification_inbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"der" "bytea" NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
DROP INDEX "notifications_pending";--> statement-breakpoint
ALTER TABLE "notifications" ALTER COLUMN "verified_at" SET DEFAULT now();--> statement-breakpoint
ALTER TABLE "notifications" ALTER COLUMN "verified_at" SET NOT NULL;