// The expert desk. Consultation rooms arrive with the consultation issue; for
// now the page greets the expert (rendered by the server), sets up the shared
// page chrome and lets the expert set their availability.

import { startAvailability } from "../expert-availability.js";
import { startPage } from "../shell.js";

startPage();
startAvailability();
