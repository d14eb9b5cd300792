// The account page: create an API token (its secret shown once) and revoke one.
import { api, el, showError } from "./api.js";
import { formatDateTime, t } from "./i18n.js";

const form = document.getElementById("token-form");
const formError = document.getElementById("token-error");
const secretBox = document.getElementById("token-secret");
const tbody = document.querySelector("#tokens tbody");
// The role names as the page shows them (its role <select> has one option per role it offers).
const ROLE_LABELS = Object.fromEntries([...form.elements.role.options].map((option) => [option.value, option.textContent]));

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(formError, null);
  const body = Object.fromEntries(new FormData(form).entries());
  try {
    const created = await api("POST", "/tokens", body);
    document.getElementById("token-secret-value").textContent = created.secret;
    secretBox.hidden = false;
    const token = created.token;
    tbody.prepend(
      el(
        "tr",
        { dataset: { tokenId: token.id } },
        el("td", {}, token.name),
        el("td", {}, ROLE_LABELS[token.role] || token.role),
        el("td", {}, token.created_at ? el("time", { datetime: token.created_at }, formatDateTime(token.created_at)) : t("just now")),
        el("td", {}, t("never")),
        el("td", { dataset: { col: "state" } }, el("button", { type: "button", class: "button", dataset: { action: "revoke" } }, t("Revoke"))),
      ),
    );
    form.reset();
  } catch (error) {
    showError(formError, error, t("Not created"));
  }
});

tbody.addEventListener("click", async (event) => {
  const button = event.target.closest('button[data-action="revoke"]');
  if (!button) return;
  const row = button.closest("tr");
  showError(formError, null);
  button.disabled = true;
  try {
    await api("DELETE", `/tokens/${encodeURIComponent(row.dataset.tokenId)}`);
    row.querySelector('[data-col="state"]').textContent = t("revoked");
  } catch (error) {
    showError(formError, error, t("Not revoked"));
    button.disabled = false;
  }
});
