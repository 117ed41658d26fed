import { NotBuilt } from "../layout/Layout";

export function ModelPage() { return <NotBuilt what="Model" />; }
