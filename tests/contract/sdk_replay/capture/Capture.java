// Makes one call of the vendor's Java SDK (itniotech/buka-java-sdk) against the capture
// server, with the values the replay fixtures use; run by capture.py, not by the test suite.
// Values written {{name}} are placeholders the replay test fills in (JsonUtil leaves braces
// as they are). Add a case here to capture another call.

import com.onbuka.api.sdk.client.AccountSdkClient;
import com.onbuka.api.sdk.client.VoiceSdkClient;
import com.onbuka.api.sdk.model.ApiData;
import com.onbuka.api.sdk.model.voicedto.FileUploadDTO;
import com.onbuka.api.sdk.model.voicedto.QueryDTO;
import com.onbuka.api.sdk.model.voicedto.SendCodeDTO;
import com.onbuka.api.sdk.model.voicedto.SendGroupDTO;
import com.onbuka.api.sdk.model.voicedto.SendSipDTO;
import com.onbuka.api.sdk.model.voicedto.SipDTO;
import com.onbuka.api.sdk.model.voicedto.SipResetDTO;
import java.io.File;
import java.util.HashMap;
import java.util.Map;

public class Capture {
    public static void main(String[] args) {
        String call = args[0];
        ApiData api = new ApiData("KEY", "SECRET", args[1]);
        VoiceSdkClient voice = VoiceSdkClient.getInstance(api);
        switch (call) {
            case "get_balance":
                AccountSdkClient.getInstance(api).getbalanceV3();
                break;
            case "file_upload": {
                FileUploadDTO dto = new FileUploadDTO();
                dto.setFileName("test.mp3");
                dto.setOriginalFile(new File(args[2]));
                voice.fileUpload(dto);
                break;
            }
            case "file_query": {
                QueryDTO dto = new QueryDTO();
                dto.setCurrent(1);
                dto.setSize(10);
                voice.fileQuery(dto);
                break;
            }
            case "send_code": {
                SendCodeDTO dto = new SendCodeDTO();
                dto.setCallee("932111111111");
                dto.setDisplayNum("1008122211");
                dto.setAppId("{{appId}}");
                dto.setLanguage("EN");
                dto.setText("Your code is 1234. Help: example.com/help");
                dto.setLoopCount(1);
                voice.sendCode(dto);
                break;
            }
            case "send_group": {
                SendGroupDTO dto = new SendGroupDTO();
                dto.setCallee("932111111111,932111111112");
                dto.setDisplayNum("1008122211");
                dto.setFileId("{{fileId}}");
                dto.setAppId("{{appId}}");
                dto.setMaxDuration(60);
                dto.setLoopCount(1);
                voice.sendGroup(dto);
                break;
            }
            case "record_group":
                voice.recordGroup("{{voiceId}}");
                break;
            case "record_group_query": {
                QueryDTO dto = new QueryDTO();
                dto.setCurrent(1);
                dto.setSize(1);
                Map<String, Object> params = new HashMap<>();
                params.put("strTime", "2026-03-01T00:00:00+08:00");
                params.put("endTime", "2026-03-03T00:00:00+08:00");
                dto.setParams(params);
                voice.recordGroupQuery(dto);
                break;
            }
            case "sip_add": {
                SipDTO dto = new SipDTO();
                dto.setAppId("{{appId}}");
                dto.setPhoneName("sipPhone");
                dto.setQuantity(2);
                dto.setDisplayNum("7777777");
                dto.setGroupName("sales/east");
                voice.sipAdd(dto);
                break;
            }
            case "sip_query": {
                QueryDTO dto = new QueryDTO();
                Map<String, Object> params = new HashMap<>();
                params.put("appId", "{{appId}}");
                dto.setParams(params);
                dto.setCurrent(1);
                dto.setSize(10);
                voice.sipQuery(dto);
                break;
            }
            case "sip_reset": {
                SipResetDTO dto = new SipResetDTO();
                dto.setAppId("{{appId}}");
                dto.setAccount("{{account}}");
                voice.sipReset(dto);
                break;
            }
            case "send_sip": {
                SendSipDTO dto = new SendSipDTO();
                dto.setAppId("{{appId}}");
                dto.setAccount("{{account}}");
                dto.setCallee("932111111111");
                dto.setDisplayNum("1234567");
                voice.sendSip(dto);
                break;
            }
            case "record_sip":
                voice.recordSip("{{voiceId}}");
                break;
            case "record_sip_query":
            case "record_sip_query_sip_group_name": {
                QueryDTO dto = new QueryDTO();
                dto.setCurrent(1);
                dto.setSize(1);
                Map<String, Object> params = new HashMap<>();
                params.put("strTime", "2026-03-01T00:00:00+08:00");
                params.put("endTime", "2026-03-03T00:00:00+08:00");
                // RecordSipQueryTest names the group `groupName`; the docs and the SDK's own
                // ParamsDTO name it `sipGroupName`: both are recorded
                params.put(call.equals("record_sip_query") ? "groupName" : "sipGroupName", "sales/east");
                params.put("phoneName", "sipPhone-2");
                dto.setParams(params);
                voice.recordSipQuery(dto);
                break;
            }
            default:
                throw new IllegalArgumentException("no such call: " + call);
        }
    }
}
