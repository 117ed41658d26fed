import { NotBuilt } from "../layout/Layout";

export function DatasetsPage() { return <NotBuilt what="Datasets" />; }
