// The token demo on api.html: log in, decode the JWT's parts, call /api/me with it.
// Plain browser JavaScript, no libraries: read it.
(function () {
  'use strict';
  var form = document.getElementById('login');
  var whoami = document.getElementById('whoami');
  var output = document.querySelector('#demo-output code');
  var token = null;

  function show(lines) {
    output.textContent = lines.join('\n');
  }

  // base64url -> text: swap the two URL-safe letters back, then the browser's atob.
  function decodePart(part) {
    var base64 = part.replace(/-/g, '+').replace(/_/g, '/');
    while (base64.length % 4) base64 += '=';
    return atob(base64);
  }

  form.addEventListener('submit', async function (event) {
    event.preventDefault();
    var response = await fetch('/api/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: form.username.value, password: form.password.value }),
    });
    var body = await response.json();
    if (!response.ok) {
      token = null;
      show(['POST /api/login -> ' + response.status, JSON.stringify(body, null, 2)]);
      return;
    }
    token = body.token;
    var parts = token.split('.');
    show([
      'POST /api/login -> ' + response.status,
      '',
      'token: ' + token,
      '',
      'header:    ' + decodePart(parts[0]),
      'payload:   ' + decodePart(parts[1]),
      'signature: ' + parts[2] + '  (HMAC-SHA256, only the server can make it)',
      '',
      'Now press "GET /api/me".',
    ]);
  });

  whoami.addEventListener('click', async function () {
    var headers = token ? { Authorization: 'Bearer ' + token } : {};
    var response = await fetch('/api/me', { headers: headers });
    show([
      'GET /api/me' + (token ? ' with Authorization: Bearer <token>' : ' without a token') + ' -> ' + response.status,
      response.headers.get('WWW-Authenticate') ? 'WWW-Authenticate: ' + response.headers.get('WWW-Authenticate') : '',
      JSON.stringify(await response.json(), null, 2),
    ]);
  });
})();
