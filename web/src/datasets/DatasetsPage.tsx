export { DatasetsPage } from "../pages/datasets/DatasetsPage";
