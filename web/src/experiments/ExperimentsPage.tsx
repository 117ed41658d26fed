import { NotBuilt } from "../layout/Layout";

export function ExperimentsPage() { return <NotBuilt what="Experiments" />; }
