import { NotBuilt } from "../layout/Layout";

export function DatasetPage() { return <NotBuilt what="Dataset" />; }
