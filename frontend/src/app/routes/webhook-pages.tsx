import { Webhooks } from "@/features/webhooks/components/webhooks";

export function WebhooksPage() {
  return <Webhooks />;
}
