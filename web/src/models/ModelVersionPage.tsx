import { NotBuilt } from "../layout/Layout";

export function ModelVersionPage() { return <NotBuilt what="Model version" />; }
