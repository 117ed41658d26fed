import { NotBuilt } from "../layout/Layout";

export function ComparePage() { return <NotBuilt what="Compare runs" />; }
