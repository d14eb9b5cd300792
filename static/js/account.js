// The account page: create an API token (its secret shown once) and revoke one.
import { api, el, showError } from "./api.js";

const form = document.getElementById("token-form");
const formError = document.getElementById("token-error");
const secretBox = document.getElementById("token-secret");
const tbody = document.querySelector("#tokens tbody");

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
        el("td", {}, token.role),
        el("td", {}, "just now"),
        el("td", {}, "never"),
        el("td", { dataset: { col: "state" } }, el("button", { type: "button", class: "button", dataset: { action: "revoke" } }, "Revoke")),
      ),
    );
    form.reset();
  } catch (error) {
    showError(formError, error, "Not created");
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
    row.querySelector('[data-col="state"]').textContent = "revoked";
  } catch (error) {
    showError(formError, error, "Not revoked");
    button.disabled = false;
  }
});
