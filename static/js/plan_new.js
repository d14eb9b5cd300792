// Starting a plan: upload its files (by name, as the plan's `source.file` gives them), then POST /plans with
// the plan's text and `files` (name -> upload_id), and go to the plan's page. The bundled example is fetched
// from the server and uploaded the same way, as a person's own files would be.
import { api, postForm, showError } from "./api.js";
import { formatBytes, t } from "./i18n.js";

const root = document.getElementById("plan-new");
const status = document.getElementById("plan-new-status");
const error = document.getElementById("plan-new-error");
const inlineLimit = Number(root.dataset.inlineLimit) || 10 * 1024 * 1024;

/** Upload one file (presigned straight to storage when it is larger than an inline request may be). */
async function upload(file) {
  status.textContent = t("Uploading {name} ({size})…", { name: file.name, size: formatBytes(file.size) });
  if (file.size > inlineLimit) {
    const grant = await api("POST", "/uploads/presign", { filename: file.name, size: file.size });
    const form = new FormData();
    for (const [name, value] of Object.entries(grant.fields || {})) form.append(name, value);
    form.append(grant.file_field || "file", file, file.name);
    await postForm(grant.url, form);
    return api("POST", grant.complete_url, { token: grant.token });
  }
  const form = new FormData();
  form.append("file", file, file.name);
  return postForm("/api/v1/uploads", form);
}

async function start(form, planFile, dataFiles) {
  showError(error, null);
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const files = {};
    for (const file of dataFiles) {
      if (file.size === 0) throw new Error(t("{name} is empty (0 bytes): there is nothing to load.", { name: file.name }));
      files[file.name] = (await upload(file)).id;
    }
    status.textContent = t("Starting the plan…");
    const body = { plan_text: await planFile.text(), files, dry_run: new FormData(form).get("dry_run") === "on" };
    const plan = await api("POST", "/plans", body);
    window.location.assign(`/plans/${encodeURIComponent(plan.id)}`);
  } catch (failure) {
    status.textContent = "";
    showError(error, failure, t("The plan did not start"));
    button.disabled = false;
  }
}

const example = document.getElementById("example-form");
if (example) {
  example.addEventListener("submit", async (event) => {
    event.preventDefault();
    const names = JSON.parse(example.dataset.files);
    try {
      const fetched = await Promise.all(
        names.map(async (name) => {
          const response = await fetch(example.dataset.base + encodeURIComponent(name));
          if (!response.ok) throw new Error(t("The example's file {name} could not be read ({status}).", { name, status: String(response.status) }));
          return new File([await response.blob()], name, { type: "text/plain" });
        }),
      );
      const [planFile, ...dataFiles] = fetched; // the server lists the plan file first
      await start(example, planFile, dataFiles);
    } catch (failure) {
      showError(error, failure, t("The plan did not start"));
    }
  });
}

const own = document.getElementById("own-form");
own.addEventListener("submit", async (event) => {
  event.preventDefault();
  const planFile = own.elements.plan.files[0];
  if (!planFile) {
    showError(error, new Error(t("Choose the plan file (YAML or JSON) first.")));
    return;
  }
  await start(own, planFile, [...own.elements.files.files]);
});
