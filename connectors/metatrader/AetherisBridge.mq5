//+------------------------------------------------------------------+
//| AetherisBridge.mq5                                               |
//| Posts the account's deals and equity to AETHERIS, signed.        |
//|                                                                  |
//| On every new deal (OnTradeTransaction) the position it belongs   |
//| to is marked; on the timer every marked position is sent with    |
//| ALL its deals (HistorySelectByPosition), with balance-type deals |
//| and an equity snapshot, as one JSON batch to                     |
//|   POST <ServerUrl>/api/v1/bridge/metatrader                      |
//| signed with HMAC-SHA256 over "<unix seconds>." + body with the   |
//| account's bridge key. A batch that does not get a 2xx (or a 409: |
//| already taken) is kept and sent again, freshly signed, with      |
//| exponential backoff. Setup: docs/connectors.md.                  |
//+------------------------------------------------------------------+
#property copyright "AETHERIS contributors"
#property version   "1.00"
#property strict

input string ServerUrl       = "https://aetheris.example.com"; // AETHERIS API base URL
input string AccountId       = "";    // the AETHERIS account id (acc_...)
input string BridgeKey       = "";    // the bridge key (abk_...), from the API
input int    TimerSeconds    = 5;     // how often pending deals are sent
input int    EquityEverySecs = 60;    // an equity snapshot at least this often
input int    HistoryDays     = 0;     // on start, also send the last N days' deals
input int    MaxPositions    = 50;    // positions per batch (keeps batches small)
input int    TimeoutMs       = 10000; // WebRequest timeout

ulong    g_positions[];       // positions with new deals, not yet delivered
ulong    g_cash_deals[];      // balance-type deals not yet delivered
string   g_pending_body = ""; // a built batch waiting to be delivered
int      g_failures = 0;      // consecutive failed deliveries
datetime g_next_try = 0;      // no delivery before this (backoff)
datetime g_last_equity = 0;
long     g_batch_counter = 0;

//+------------------------------------------------------------------+
int OnInit()
  {
   if(AccountId == "" || StringLen(BridgeKey) < 8 || StringLen(BridgeKey) > 64)
     {
      Print("AetherisBridge: set AccountId and BridgeKey (issued by POST /api/v1/accounts/{id}/bridge-key)");
      return(INIT_PARAMETERS_INCORRECT);
     }
   if(HistoryDays > 0)
      QueueHistory(TimeCurrent() - HistoryDays * 86400, TimeCurrent());
   EventSetTimer(MathMax(TimerSeconds, 1));
   return(INIT_SUCCEEDED);
  }

void OnDeinit(const int reason)
  {
   EventKillTimer();
  }

//+------------------------------------------------------------------+
//| A new deal: remember its position (or the deal, for cash).       |
//+------------------------------------------------------------------+
void OnTradeTransaction(const MqlTradeTransaction &trans,
                        const MqlTradeRequest &request,
                        const MqlTradeResult &result)
  {
   if(trans.type != TRADE_TRANSACTION_DEAL_ADD)
      return;
   if(trans.position != 0)
      AddUnique(g_positions, trans.position);
   else
      AddUnique(g_cash_deals, trans.deal);
  }

void OnTimer()
  {
   if(TimeLocal() < g_next_try)
      return;
   bool equity_due = (TimeCurrent() - g_last_equity) >= EquityEverySecs;
   if(g_pending_body == "")
     {
      if(ArraySize(g_positions) == 0 && ArraySize(g_cash_deals) == 0 && !equity_due)
         return;
      g_pending_body = BuildBatch();
     }
   int status = Deliver(g_pending_body);
   if((status >= 200 && status < 300) || status == 409)
     {
      // 409: this batch id was taken already (an earlier try got through)
      g_pending_body = "";
      g_failures = 0;
      g_next_try = 0;
      g_last_equity = TimeCurrent();
      return;
     }
   g_failures++;
   int wait = (int)MathMin(300, MathMax(TimerSeconds, 1) * MathPow(2, MathMin(g_failures, 8)));
   g_next_try = TimeLocal() + wait;
   if(status == 401)
      PrintFormat("AetherisBridge: refused (401): check BridgeKey, AccountId and the PC clock; next try in %d s", wait);
   else if(status == 413 || status == 422)
     {
      PrintFormat("AetherisBridge: batch refused (%d), dropped: lower MaxPositions", status);
      g_pending_body = "";
     }
   else
      PrintFormat("AetherisBridge: delivery failed (%d, error %d); next try in %d s", status, GetLastError(), wait);
  }

//+------------------------------------------------------------------+
//| Batch building                                                   |
//+------------------------------------------------------------------+
void QueueHistory(datetime from, datetime to)
  {
   if(!HistorySelect(from, to))
      return;
   int total = HistoryDealsTotal();
   for(int i = 0; i < total; i++)
     {
      ulong ticket = HistoryDealGetTicket(i);
      ulong position = (ulong)HistoryDealGetInteger(ticket, DEAL_POSITION_ID);
      if(position != 0)
         AddUnique(g_positions, position);
      else
         AddUnique(g_cash_deals, ticket);
     }
  }

string BuildBatch()
  {
   string deals = "";
   int taken = MathMin(ArraySize(g_positions), MathMax(MaxPositions, 1));
   for(int p = 0; p < taken; p++)
     {
      if(!HistorySelectByPosition(g_positions[p]))
         continue;
      int total = HistoryDealsTotal();
      for(int i = 0; i < total; i++)
        {
         ulong ticket = HistoryDealGetTicket(i);
         if(ticket > 0)
            deals += (deals == "" ? "" : ",") + DealJson(ticket);
        }
     }
   ArrayRemove(g_positions, 0, taken);
   for(int c = 0; c < ArraySize(g_cash_deals); c++)
     {
      if(HistoryDealSelect(g_cash_deals[c]))
         deals += (deals == "" ? "" : ",") + DealJson(g_cash_deals[c]);
     }
   ArrayResize(g_cash_deals, 0);

   long login = AccountInfoInteger(ACCOUNT_LOGIN);
   g_batch_counter++;
   string batch_id = StringFormat("mt5-%I64d-%I64d-%I64d", login, (long)TimeGMT(), g_batch_counter);
   string equity = StringFormat("{\"time\":%I64d,\"balance\":%.2f,\"equity\":%.2f}",
                                (long)TimeTradeServer(),
                                AccountInfoDouble(ACCOUNT_BALANCE),
                                AccountInfoDouble(ACCOUNT_EQUITY));
   return StringFormat("{\"batch_id\":\"%s\",\"login\":\"%I64d\",\"server\":\"%s\",\"currency\":\"%s\","
                       "\"server_offset_seconds\":%d,\"deals\":[%s],\"equity\":[%s]}",
                       batch_id, login,
                       JsonEscape(AccountInfoString(ACCOUNT_SERVER)),
                       JsonEscape(AccountInfoString(ACCOUNT_CURRENCY)),
                       ServerOffsetSeconds(), deals, equity);
  }

string DealJson(ulong ticket)
  {
   return StringFormat(
      "{\"deal\":\"%I64u\",\"order\":\"%I64d\",\"position\":\"%s\",\"time\":%I64d,"
      "\"type\":\"%s\",\"entry\":\"%s\",\"symbol\":\"%s\",\"volume\":%.8g,\"price\":%.10g,"
      "\"commission\":%.2f,\"fee\":%.2f,\"swap\":%.2f,\"profit\":%.2f,\"sl\":%.10g,\"tp\":%.10g,"
      "\"comment\":\"%s\"}",
      ticket,
      HistoryDealGetInteger(ticket, DEAL_ORDER),
      PositionText((ulong)HistoryDealGetInteger(ticket, DEAL_POSITION_ID)),
      (long)HistoryDealGetInteger(ticket, DEAL_TIME),
      DealType((ENUM_DEAL_TYPE)HistoryDealGetInteger(ticket, DEAL_TYPE)),
      DealEntry((ENUM_DEAL_ENTRY)HistoryDealGetInteger(ticket, DEAL_ENTRY)),
      JsonEscape(HistoryDealGetString(ticket, DEAL_SYMBOL)),
      HistoryDealGetDouble(ticket, DEAL_VOLUME),
      HistoryDealGetDouble(ticket, DEAL_PRICE),
      HistoryDealGetDouble(ticket, DEAL_COMMISSION),
      HistoryDealGetDouble(ticket, DEAL_FEE),
      HistoryDealGetDouble(ticket, DEAL_SWAP),
      HistoryDealGetDouble(ticket, DEAL_PROFIT),
      HistoryDealGetDouble(ticket, DEAL_SL),
      HistoryDealGetDouble(ticket, DEAL_TP),
      JsonEscape(HistoryDealGetString(ticket, DEAL_COMMENT)));
  }

string PositionText(ulong position)
  {
   return position == 0 ? "" : StringFormat("%I64u", position);
  }

string DealType(ENUM_DEAL_TYPE type)
  {
   switch(type)
     {
      case DEAL_TYPE_BUY:                 return "buy";
      case DEAL_TYPE_SELL:                return "sell";
      case DEAL_TYPE_BALANCE:             return "balance";
      case DEAL_TYPE_CREDIT:              return "credit";
      case DEAL_TYPE_CHARGE:              return "charge";
      case DEAL_TYPE_CORRECTION:          return "correction";
      case DEAL_TYPE_BONUS:               return "bonus";
      case DEAL_TYPE_COMMISSION:          return "commission";
      case DEAL_TYPE_COMMISSION_DAILY:    return "daily commission";
      case DEAL_TYPE_COMMISSION_MONTHLY:  return "monthly commission";
      case DEAL_TYPE_COMMISSION_AGENT_DAILY:
      case DEAL_TYPE_COMMISSION_AGENT_MONTHLY:
                                          return "agent commission";
      case DEAL_TYPE_INTEREST:            return "interest rate";
      case DEAL_DIVIDEND:                 return "dividend";
      case DEAL_TAX:                      return "tax";
     }
   return "other";  // reported by the server with its deal id, never guessed
  }

string DealEntry(ENUM_DEAL_ENTRY entry)
  {
   switch(entry)
     {
      case DEAL_ENTRY_IN:    return "in";
      case DEAL_ENTRY_OUT:   return "out";
      case DEAL_ENTRY_INOUT: return "inout";
      case DEAL_ENTRY_OUT_BY:return "out_by";
     }
   return "";
  }

// Trade-server clock minus UTC, to the nearest quarter hour (deal times are server time).
int ServerOffsetSeconds()
  {
   long offset = (long)TimeTradeServer() - (long)TimeGMT();
   return (int)(MathRound(offset / 900.0) * 900);
  }

string JsonEscape(string text)
  {
   string out = text;
   StringReplace(out, "\\", "\\\\");
   StringReplace(out, "\"", "\\\"");
   StringReplace(out, "\n", " ");
   StringReplace(out, "\r", " ");
   StringReplace(out, "\t", " ");
   return out;
  }

void AddUnique(ulong &list[], ulong value)
  {
   for(int i = 0; i < ArraySize(list); i++)
      if(list[i] == value)
         return;
   int size = ArraySize(list);
   ArrayResize(list, size + 1);
   list[size] = value;
  }

//+------------------------------------------------------------------+
//| Signing and delivery                                             |
//+------------------------------------------------------------------+
int Deliver(string body)
  {
   uchar data[];
   int length = StringToCharArray(body, data, 0, WHOLE_ARRAY, CP_UTF8) - 1; // drop the NUL
   ArrayResize(data, length);
   string timestamp = IntegerToString((long)TimeGMT());
   string headers = "Content-Type: application/json\r\n"
                    "X-Aetheris-Account: " + AccountId + "\r\n"
                    "X-Aetheris-Timestamp: " + timestamp + "\r\n"
                    "X-Aetheris-Signature: v1=" + HmacSha256Hex(BridgeKey, timestamp + ".", data) + "\r\n";
   char request[];
   ArrayResize(request, length);
   for(int i = 0; i < length; i++)
      request[i] = (char)data[i];
   char answer[];
   string answer_headers;
   ResetLastError();
   string url = ServerUrl;
   if(StringSubstr(url, StringLen(url) - 1) == "/")
      url = StringSubstr(url, 0, StringLen(url) - 1);
   return WebRequest("POST", url + "/api/v1/bridge/metatrader", headers, TimeoutMs,
                     request, answer, answer_headers);
  }

// HMAC-SHA256 (RFC 2104) over prefix + body, with CryptEncode's SHA-256 as the hash.
// The key is at most 64 bytes (one SHA-256 block), so it is only zero-padded.
string HmacSha256Hex(string key_text, string prefix, const uchar &body[])
  {
   uchar key[], no_key[], inner[], outer[], inner_hash[], outer_hash[], prefix_bytes[];
   int key_length = StringToCharArray(key_text, key, 0, WHOLE_ARRAY, CP_UTF8) - 1;
   ArrayResize(key, 64);
   for(int k = key_length; k < 64; k++)
      key[k] = 0;
   int prefix_length = StringToCharArray(prefix, prefix_bytes, 0, WHOLE_ARRAY, CP_UTF8) - 1;
   int body_length = ArraySize(body);

   ArrayResize(inner, 64 + prefix_length + body_length);
   for(int i = 0; i < 64; i++)
      inner[i] = (uchar)(key[i] ^ 0x36);
   for(int i = 0; i < prefix_length; i++)
      inner[64 + i] = prefix_bytes[i];
   for(int i = 0; i < body_length; i++)
      inner[64 + prefix_length + i] = body[i];
   CryptEncode(CRYPT_HASH_SHA256, inner, no_key, inner_hash);

   ArrayResize(outer, 64 + 32);
   for(int i = 0; i < 64; i++)
      outer[i] = (uchar)(key[i] ^ 0x5c);
   for(int i = 0; i < 32; i++)
      outer[64 + i] = inner_hash[i];
   CryptEncode(CRYPT_HASH_SHA256, outer, no_key, outer_hash);

   string hex = "";
   for(int i = 0; i < ArraySize(outer_hash); i++)
      hex += StringFormat("%02x", outer_hash[i]);
   return hex;
  }
//+------------------------------------------------------------------+
