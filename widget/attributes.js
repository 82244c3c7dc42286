/*! Frontdesk widget module: Frontdesk.setAttributes({plan: "Team", orders: 12, signed_up: new Date()}).
 * Custom attributes for the agents' visitor panel (PROTOCOL.md, "Custom attributes"): strings, numbers,
 * booleans and dates (a Date goes as its ISO string); null removes one. Never verified: attributes the
 * site vouches for go through Frontdesk.identify({user_id, user_hash, ts, attributes}). Calls made while
 * offline are merged and sent once the widget is connected. */
Frontdesk.define('attributes', (core) => {
  let pending = null;
  function flush() {
    if (!pending || core.state.connection != 'online') return;
    const attributes = pending;
    pending = null;
    core.link.request('attributes.set', {attributes}).then((reply) => {
      core.state.visitor = reply.visitor || core.state.visitor;
    }, (error) => {
      if (error.code == 'offline') pending = {...attributes, ...pending};
      else console.warn('[Frontdesk] setAttributes refused: ' + (error.message || error.code));
    });
  }
  Frontdesk.on('ready', flush);
  return (attributes) => {
    pending = {...pending, ...attributes};
    flush();
  };
});
