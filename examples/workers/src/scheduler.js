// Local stand-in for Cloudflare's Cron Triggers under workerd (config.capnp's `scheduled`
// socket): each request runs the sessions Worker's scheduled() handler once, with the cron
// expression given as `?cron=`, and answers `{"outcome": "ok"}` (or the failure's outcome,
// with status 500). A cron job or a test POSTs here instead of waiting for a schedule.

export default {
  async fetch(request, env) {
    const cron = new URL(request.url).searchParams.get('cron') ?? '';
    const result = await env.SESSIONS.scheduled({ cron, scheduledTime: Date.now() });
    return Response.json({ outcome: result.outcome }, { status: result.outcome === 'ok' ? 200 : 500 });
  },
};
