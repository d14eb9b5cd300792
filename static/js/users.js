// The users page (admins): add a user with a role and a first password (POST /api/v1/users), listed at once.
import { api, el, showError } from "./api.js";
import { formatDateTime, t } from "./i18n.js";

const ROLES = JSON.parse(document.getElementById("role-labels").textContent);
const form = document.getElementById("user-form");
const error = document.getElementById("user-error");
const added = document.getElementById("user-added");
const body = document.querySelector("#users tbody");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(error, null);
  added.hidden = true;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const { user } = await api("POST", "/users", Object.fromEntries(new FormData(form).entries()));
    body.prepend(
      el(
        "tr",
        { dataset: { username: user.username } },
        el("td", {}, user.username),
        el("td", { "data-col": "role" }, ROLES[user.role] || user.role),
        el("td", {}, t("active")),
        el("td", {}, el("time", { datetime: user.created_at }, formatDateTime(user.created_at))),
        el("td", {}, t("never")),
      ),
    );
    added.textContent = t("Added {username} as {role}: they can sign in now.", { username: user.username, role: ROLES[user.role] || user.role });
    added.hidden = false;
    form.reset();
  } catch (failure) {
    showError(error, failure, t("Not added"));
  } finally {
    button.disabled = false;
  }
});
