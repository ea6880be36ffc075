// Reads a JSON array of Kubernetes objects on stdin; prints "<kind> ok" or "<kind> <error>" for
// each HTTPRoute / ServiceMonitor / PrometheusRule, validated against the models built from their CRD schemas.
import { HTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";

const models = {
  "gateway.networking.k8s.io/v1 HTTPRoute": HTTPRoute,
  "monitoring.coreos.com/v1 ServiceMonitor": ServiceMonitor,
  "monitoring.coreos.com/v1 PrometheusRule": PrometheusRule,
};
let input = "";
for await (const chunk of process.stdin) input += chunk;
for (const doc of JSON.parse(input)) {
  const Model = models[`${doc.apiVersion} ${doc.kind}`];
  if (!Model) {
    console.log(`${doc.kind} no-model-for ${doc.apiVersion}`);
    continue;
  }
  try {
    new Model(doc).validate();
    console.log(`${doc.kind} ok`);
  } catch (err) {
    console.log(`${doc.kind} ${String(err.message).replace(/\n/g, " ")}`);
  }
}
