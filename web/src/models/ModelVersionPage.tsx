export { ModelVersionPage } from "../pages/models/ModelVersionPage";
