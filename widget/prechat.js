/*! Frontdesk widget module: the pre-chat form's fields (name, email), drawn from the tenant's
 * configuration in the visitor's language. widget.js loads it only while the form is to be shown. */
Frontdesk.define('prechat', (core) => {
  let drawn = '';
  return (t) => {
    const state = core.state, box = core.root().querySelector('.pfs'), fields = state.config.prechat.fields;
    const signature = JSON.stringify(fields) + t('Name') + t('Email') + t('(optional)');
    if (drawn == signature) return;
    drawn = signature;
    box.textContent = '';
    fields.forEach((field) => {
      if (field.name != 'name' && field.name != 'email') return;
      const label = core.el('label', 0, t(field.name == 'name' ? 'Name' : 'Email') + (field.required ? '' : ' ' +
        t('(optional)'))), input = core.el('input');
      input.name = input.autocomplete = field.name;
      input.type = field.name == 'email' ? 'email' : 'text';
      input.required = !!field.required;
      input.dir = 'auto';
      input.value = state.visitor[field.name] || '';
      label.appendChild(input);
      box.appendChild(label);
    });
  };
});
