import { NotBuilt } from "../layout/Layout";

export function ModelsPage() { return <NotBuilt what="Models" />; }
