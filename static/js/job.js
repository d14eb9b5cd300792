// The job page: follow the job shown; a retry opens the new job's page.
import { JobPanel } from "./jobview.js";

const root = document.querySelector("[data-job-panel]");
if (root) {
  const panel = new JobPanel(root, {
    onRetry: (job) => location.assign(`/jobs/${encodeURIComponent(job.id)}`),
  });
  panel.follow();
}
