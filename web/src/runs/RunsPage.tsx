import { NotBuilt } from "../layout/Layout";

export function RunsPage() { return <NotBuilt what="Runs" />; }
