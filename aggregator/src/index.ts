export { CidrError, LocalNetworks } from "./networks.js";
