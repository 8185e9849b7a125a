-- wrk script: POST pay/buy with a JSON body (the ticket is in the URL).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"products":[{"id":"demo-tea","amount":1}],"pay_tp":"wx.qrcode"}'
