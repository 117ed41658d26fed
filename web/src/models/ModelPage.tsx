export { ModelPage } from "../pages/models/ModelPage";
