/*! Frontdesk widget module: business hours in the page (loaded by widget.js when the tenant has them on).
 * The same rule as the server's domain.within_business_hours, so a page left open switches to away at
 * closing time without a reconnect. */
Frontdesk.define('hours', (core) => (hours) => {
  const state = core.state, parts = {};
  let within = state.withinHours;
  try {
    new Intl.DateTimeFormat('en-US', {timeZone: hours.timezone || 'UTC', weekday: 'short', hour: '2-digit',
      minute: '2-digit', hourCycle: 'h23'}).formatToParts(new Date()).forEach((p) => { parts[p.type] = p.value; });
    const now = parts.hour + ':' + parts.minute;
    within = ((hours.days || {})[parts.weekday.slice(0, 3).toLowerCase()] || []).some((r) => r[0] <= now && now < r[1]);
  } catch (e) { /* an unknown time zone: keep what the server said */ }
  if (within != state.withinHours) {
    state.withinHours = within;
    core.refresh();
  }
});
