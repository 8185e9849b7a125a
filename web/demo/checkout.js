// The demo checkout's behaviour: pay/buy, the QR code from pay/qr (or a link for re_tp LINK),
// pay/check polled with back-off until the order is paid or closed, and in the dev stack a
// button that pays through paysim's /sim/pay (served on the same origin by the dev nginx).
'use strict';

(function () {
  const cfg = window.ORDERPAY_DEMO || {};
  const $ = (id) => document.getElementById(id);
  const PAID = ['OK', 'SP', 'DN'];
  let order = null;
  let pollTimer = null;
  let delay = 1000;

  function apiUrl(action, params) {
    const q = new URLSearchParams(Object.assign({ ticket: cfg.ticket || '' }, params || {}));
    return '/api/' + encodeURIComponent(cfg.site || 'demo') + '/pay/' + action + '?' + q;
  }

  // One API call; resolves to `data`, or throws an Error carrying errCode and data.
  async function call(method, action, params, body, headers) {
    const init = { method: method, headers: Object.assign({}, headers || {}) };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(apiUrl(action, params), init);
    let json = null;
    try { json = await resp.json(); } catch (e) { /* not JSON: handled below */ }
    if (json && json.ok) return json.data;
    const err = new Error(json ? json.msg + ' (' + json.errCode + ')' : 'HTTP ' + resp.status);
    err.code = json && json.errCode;
    err.data = json && json.data;
    throw err;
  }

  function money(minor, currency) {
    return (Number(minor) / 100).toFixed(2) + ' ' + currency;
  }

  function showError(text) {
    $('error').textContent = text || '';
    $('error').hidden = !text;
  }

  function setStatus(state, text) {
    $('status').dataset.state = state;
    $('status').textContent = text;
  }

  function renderProducts() {
    const list = $('products');
    (cfg.products || []).forEach((p, i) => {
      const li = document.createElement('li');
      const label = document.createElement('label');
      label.htmlFor = 'qty-' + p.id;
      label.textContent = p.title + ' — ' + money(p.price_minor, p.currency);
      const qty = document.createElement('input');
      qty.type = 'number';
      qty.min = '0';
      qty.max = '10';
      qty.value = i === 0 ? '1' : '0';
      qty.id = 'qty-' + p.id;
      qty.dataset.product = p.id;
      li.append(label, qty);
      list.append(li);
    });
  }

  function idempotencyKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return 'k' + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  // One key per checkout: the same cart bought again (a retry after a lost reply) sends the same
  // key and is answered the order the first try created; a changed cart is a new checkout.
  let checkout = null;
  function keyFor(body) {
    const sig = JSON.stringify(body);
    if (!checkout || checkout.sig !== sig) checkout = { sig: sig, key: idempotencyKey() };
    return checkout.key;
  }

  async function buy() {
    showError('');
    const products = Array.from(document.querySelectorAll('#products input'))
      .map((el) => ({ id: el.dataset.product, amount: parseInt(el.value, 10) || 0 }))
      .filter((p) => p.amount > 0);
    const payTp = document.querySelector('input[name=pay_tp]:checked').value;
    if (!products.length) return showError('Choose at least one product.');
    $('buy').disabled = true;
    try {
      const body = { products: products, pay_tp: payTp };
      show(await call('POST', 'buy', {}, body, { 'Idempotency-Key': keyFor(body) }));
    } catch (e) {
      // A buy that failed at the provider has created the order: show it and keep checking.
      if (e.data && e.data.id) show(e.data);
      showError('Buy failed: ' + e.message);
      $('buy').disabled = !!order;
      if (!order) return;
    }
    schedulePoll(1000);
  }

  function show(o) {
    order = o;
    $('pay').hidden = false;
    $('order-id').textContent = o.id;
    $('fee').textContent = o.fee.toFixed(2) + ' ' + o.currency;
    const re = o.pay_re || {};
    if (PAID.includes(o.or_st)) {
      setStatus('paid', 'Paid — thank you!');
      $('qr').hidden = true;
      $('sandbox').hidden = true;
      $('paylink').hidden = true;
      stopPoll();
      return;
    }
    if (o.or_st === 'FA') {
      setStatus('failed', 'The order failed or expired.');
      $('qr').hidden = true;
      $('sandbox').hidden = true;
      stopPoll();
      return;
    }
    setStatus('waiting', 'Waiting for payment…');
    if (re.re_tp === 'QRCODE') {
      const src = apiUrl('qr', { id: o.id });
      // Same URL for a new slip too; pay/qr's ETag changes with it and the browser revalidates.
      if ($('qr').dataset.slip !== o.pay_id) {
        $('qr').dataset.slip = o.pay_id;
        $('qr').src = src;
      }
      $('qr').hidden = false;
    } else if (re.re_tp === 'LINK' && typeof re.re_obj === 'string') {
      $('paylink').href = re.re_obj;  // e.g. a PayPal approval URL
      $('paylink').hidden = false;
    }
    $('sandbox').hidden = !cfg.sandbox || !o.pay_id;
  }

  function stopPoll() {
    if (pollTimer) clearTimeout(pollTimer);
    pollTimer = null;
  }

  // pay/check with back-off: 1 s, then x1.6 up to 8 s; errors back off the same way.
  function schedulePoll(first) {
    stopPoll();
    delay = first;
    pollTimer = setTimeout(poll, delay);
  }

  async function poll() {
    pollTimer = null;
    if (!order) return;
    try {
      show(await call('GET', 'check', { id: order.id }));
    } catch (e) {
      showError('Checking the order failed: ' + e.message + ' (retrying)');
    }
    if (order && !PAID.includes(order.or_st) && order.or_st !== 'FA' && Date.now() < order.expi) {
      delay = Math.min(delay * 1.6, 8000);
      pollTimer = setTimeout(poll, delay);
    }
  }

  // Dev stack only: paysim pays the slip as the buyer's phone would and notifies orderpay.
  async function sandboxPay() {
    if (!order || !order.pay_id) return;
    $('sandbox').disabled = true;
    try {
      const resp = await fetch('/sim/pay', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ out_trade_no: order.pay_id }),
      });
      if (!resp.ok) throw new Error('paysim answered HTTP ' + resp.status);
      setStatus('confirming', 'Paid on the phone; confirming…');
      schedulePoll(300);
    } catch (e) {
      showError('Sandbox payment failed: ' + e.message);
    } finally {
      $('sandbox').disabled = false;
    }
  }

  renderProducts();
  $('buy').addEventListener('click', buy);
  $('sandbox').addEventListener('click', sandboxPay);
  if (!cfg.ticket) showError('No ticket configured (config.js): this page needs the dev stack.');
})();
