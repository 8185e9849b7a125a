// The demo checkout's behaviour: pay/buy, the QR code from pay/qr (or a link for re_tp LINK),
// pay/check polled with back-off until the order is paid or closed (past its expiry too, until
// the expire timer has failed it; while checks fail past expiry its state is unknown, never
// expired), and in the dev stack a button that pays through paysim's
// /sim/pay (served on the same origin by the dev nginx).
'use strict';

(function () {
  const cfg = window.ORDERPAY_DEMO || {};
  const $ = (id) => document.getElementById(id);
  const PAID = ['OK', 'SP', 'DN'];
  // An order stays NW/WT past its expi until `orderpay expire` (a timer, every minute) has closed
  // its slip and failed it; a payment sent just before expi may also still be on its way. The page
  // keeps asking that long, and this much longer before it gives the order up as expired itself
  // (the provider's code stopped taking money at expi: nothing new can pay it). Judged only on an
  // answer: while checks fail, a payment made just before expi may have settled unseen.
  const GIVE_UP_AFTER_EXPI_MS = 5 * 60 * 1000;
  let order = null;
  let open = false;  // `order` is still to be paid: polled, and Buy stays disabled
  let pollTimer = null;
  let delay = 1000;
  const CHECK_FAILED = 'Checking the order failed: ';
  let skewMs = 0;  // the server's clock minus ours, from the replies' Date: expi is the server's

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
    const serverDate = Date.parse(resp.headers.get('Date') || '');
    if (!Number.isNaN(serverDate)) skewMs = serverDate - Date.now();
    let json = null;
    try { json = await resp.json(); } catch (e) { /* not JSON: handled below */ }
    if (json && json.ok) return json.data;
    const err = new Error(json ? json.msg + ' (' + json.errCode + ')' : 'HTTP ' + resp.status);
    err.code = json && json.errCode;
    err.data = json && json.data;
    throw err;
  }

  function serverNow() {
    return Date.now() + skewMs;
  }

  // Each currency's decimals, from the catalogue (JPY 0, CNY 2): amounts shown as they are charged.
  const decimals = {};
  function money(amount, currency) {
    const d = Object.prototype.hasOwnProperty.call(decimals, currency) ? decimals[currency] : 2;
    return Number(amount).toFixed(d) + ' ' + currency;
  }

  function showError(text) {
    $('error').textContent = text || '';
    $('error').hidden = !text;
  }

  function setStatus(state, text) {
    $('status').dataset.state = state;
    $('status').textContent = text;
  }

  // The catalogue as pay/buy prices it (pay/products), not a copy taken when the page was made,
  // which showed one price and charged another after a change; config.js's list only when the
  // API cannot be reached.
  async function renderProducts() {
    const list = $('products');
    let items;
    try {
      items = (await call('GET', 'products')).products;
    } catch (e) {
      items = (cfg.products || []).map((p) => ({ id: p.id, title: p.title, price: p.price_minor / 100,
                                                  currency: p.currency }));
    }
    items.forEach((p) => { if (p.decimals !== undefined) decimals[p.currency] = p.decimals; });
    const preselect = (cfg.products && cfg.products.length) ? cfg.products[0].id : (items[0] || {}).id;
    items.forEach((p) => {
      const li = document.createElement('li');
      const label = document.createElement('label');
      label.htmlFor = 'qty-' + p.id;
      label.textContent = p.title + ' — ' + money(p.price, p.currency);
      const qty = document.createElement('input');
      qty.type = 'number';
      qty.min = '0';
      qty.max = '10';
      // One of the product config.js names first (the demo's tea), none of the rest: a site may
      // sell many more than the demo's two.
      qty.value = p.id === preselect ? '1' : '0';
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
    // A new checkout: the last order (paid, failed, expired) is no longer on show.
    order = null;
    $('pay').hidden = true;
    try {
      const body = { products: products, pay_tp: payTp };
      show(await call('POST', 'buy', {}, body, { 'Idempotency-Key': keyFor(body) }));
      // A long catalogue leaves the code to scan below the fold: brought into view once, on buy.
      if (!$('pay').hidden) $('pay').scrollIntoView({ block: 'start' });
    } catch (e) {
      // A buy that failed at the provider has created the order: show it and keep checking.
      if (e.data && e.data.id) show(e.data);
      showError('Buy failed: ' + e.message);
      if (!open) {
        $('buy').disabled = false;
        return;
      }
    }
    schedulePoll(1000);
  }

  // The order ended (paid, failed, expired, refunded): nothing more to wait for, and the next Buy
  // is a new checkout with a new Idempotency-Key, even for the same cart (the same key would be
  // answered this order again).
  function finish(state, text) {
    open = false;
    stopPoll();
    setStatus(state, text);
    $('qr').hidden = true;
    $('sandbox').hidden = true;
    $('paylink').hidden = true;
    checkout = null;
    $('buy').disabled = false;
  }

  function expiredText(o) {
    return 'Order ' + o.id + ' expired unpaid. Press Buy to order again.';
  }

  function show(o) {
    order = o;
    $('pay').hidden = false;
    $('order-id').textContent = o.id;
    $('fee').textContent = money(o.fee, o.currency);
    const re = o.pay_re || {};
    if (PAID.includes(o.or_st)) {
      return finish('paid', o.or_st === 'SP' ? 'Paid and shipped — thank you!' : 'Paid — thank you!');
    }
    if (o.or_st === 'RF') {
      return finish('refunded', 'The payment was refunded in full; the order is closed.');
    }
    if (o.or_st === 'FA') {
      // Failed at or after its expiry: the expire timer's doing, not a declined payment.
      if (o.fa_at && o.fa_at >= o.expi) return finish('expired', expiredText(o));
      return finish('failed', 'The payment failed. Press Buy to try again.');
    }
    open = true;
    if (serverNow() >= o.expi) {
      // The code no longer takes money, but the order is not closed yet: no QR to scan, and Buy
      // waits until it is (a payment made just before expi would otherwise be a second one).
      setStatus('expiring', 'The order has expired; checking that no payment is on its way…');
      $('qr').hidden = true;
      $('sandbox').hidden = true;
      $('paylink').hidden = true;
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
    if (!order || !open) return;
    const id = order.id;
    let answered = false;
    try {
      const o = await call('GET', 'check', { id: id });
      if (!order || order.id !== id) return;  // a new checkout began meanwhile
      if ($('error').textContent.startsWith(CHECK_FAILED)) showError('');  // only our own
      show(o);
      answered = true;
    } catch (e) {
      showError(CHECK_FAILED + e.message + ' (retrying)');
    }
    if (!open || !order || order.id !== id) return;
    if (answered && serverNow() >= order.expi + GIVE_UP_AFTER_EXPI_MS) {
      // Still open this long after expi, by this answer: the timer is late or cannot close the
      // slip; the code stopped taking money at expi, so the shopper is told and may buy again.
      return finish('expired', expiredText(order));
    }
    if (!answered && serverNow() >= order.expi) {
      // Past expi with no answer: it may have been paid just before, so its state is unknown, not
      // expired, and Buy stays disabled (a second order would be a second payment) until a check
      // answers.
      setStatus('unknown', 'Cannot tell whether order ' + order.id + ' was paid: checking it fails. ' +
        'Still trying; please do not pay again.');
      $('qr').hidden = true;
      $('sandbox').hidden = true;
      $('paylink').hidden = true;
    }
    delay = Math.min(delay * 1.6, 8000);
    pollTimer = setTimeout(poll, delay);
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
