import { NotBuilt } from "../layout/Layout";

export function MetricsPage() { return <NotBuilt what="Metric charts" />; }
