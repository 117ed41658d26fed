import { NotBuilt } from "../layout/Layout";

export function RunPage() { return <NotBuilt what="Run" />; }
