export { ModelsPage } from "../pages/models/ModelsPage";
