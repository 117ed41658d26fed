export { DatasetPage } from "../pages/datasets/DatasetPage";
