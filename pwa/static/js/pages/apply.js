// The public expert application: the form (with skills as tags) and the
// status check by reference and contact. No account is needed for either.

import { errorText, getJson, postJson } from "../api.js";
import { config, t } from "../config.js";
import { byId, el, setStatus } from "../dom.js";
import { fillCategorySelect, loadCategories } from "../expert-format.js";
import { tagField } from "../expert-tags.js";
import { startPage } from "../shell.js";

const skills = tagField({
  input: byId("apply-skill"),
  addButton: byId("apply-skill-add"),
  list: byId("apply-skills"),
});

async function showCategories() {
  const select = byId("apply-category");
  const status = byId("apply-status");
  try {
    const categories = await loadCategories(byId("apply-tenant").value);
    select.replaceChildren();
    fillCategorySelect(select, categories);
  } catch (error) {
    setStatus(status, errorText(error), "error");
  }
}

function application() {
  return {
    tenant: byId("apply-tenant").value,
    name: byId("apply-name").value,
    contact: {
      phone: byId("apply-phone").value,
      email: byId("apply-email").value,
    },
    category: byId("apply-category").value,
    skills: skills.values(),
    organisation: byId("apply-organisation").value,
    qualifications: byId("apply-qualifications").value,
    accept_terms: byId("apply-terms").checked,
    terms_version: config().terms_version,
  };
}

async function submitApplication(event) {
  event.preventDefault();
  const button = byId("apply-submit");
  const status = byId("apply-status");
  button.disabled = true;
  setStatus(status, t("apply.sending"));
  try {
    const { reference } = await postJson(
      "/api/expert-applications",
      application(),
    );
    setStatus(status, t("apply.done", { reference }));
    byId("check-reference").value = reference;
    byId("apply-form").reset();
    skills.clear();
  } catch (error) {
    setStatus(status, errorText(error), "error");
  } finally {
    button.disabled = false;
  }
}

async function checkStatus(event) {
  event.preventDefault();
  const status = byId("check-status");
  const reasons = byId("check-reasons");
  const reference = byId("check-reference").value.trim();
  const contact = byId("check-contact").value.trim();
  reasons.replaceChildren();
  try {
    const path =
      "/api/expert-applications/" +
      encodeURIComponent(reference) +
      "?contact=" +
      encodeURIComponent(contact);
    const found = await getJson(path);
    const label = t("apply_status." + found.status);
    setStatus(status, t("apply.check.result", { reference, status: label }));
    for (const decision of found.decisions.filter((d) => d.reason)) {
      reasons.append(
        el("li", {}, t("apply.check.reason", { reason: decision.reason })),
      );
    }
  } catch (error) {
    setStatus(status, errorText(error), "error");
  }
}

startPage();
byId("apply-tenant").addEventListener("change", showCategories);
byId("apply-form").addEventListener("submit", submitApplication);
byId("check-form").addEventListener("submit", checkStatus);
showCategories();
